//! DNS64 behaviour, one test per rule of RFC 6147 (and RFC 8880, RFC 8914)
//! the engine implements, driven through a scripted upstream; then a property
//! test feeding random and garbled upstream answers through the engine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NULL, PTR, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use proptest::prelude::*;
use sixgate::dns64::{
    error_reply, Action, ClientPolicy, Config, Resolution, EDE_SYNTHESIZED, EDNS_EDE,
};
use sixgate::Nat64Prefix;

// ---------------------------------------------------------------- helpers

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn query(qname: &str, rtype: RecordType) -> Message {
    let mut m = Message::new();
    m.set_id(0x4242).set_recursion_desired(true);
    m.add_query(Query::query(name(qname), rtype));
    m
}

fn with_edns(mut m: Message, dnssec_ok: bool, cd: bool) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(4096).set_dnssec_ok(dnssec_ok);
    m.set_edns(e);
    m.set_checking_disabled(cd);
    m
}

/// An empty NOERROR answer to `q`.
fn reply(q: &Message) -> Message {
    let mut m = Message::new();
    m.set_id(q.id())
        .set_message_type(MessageType::Response)
        .set_recursion_desired(q.recursion_desired())
        .set_recursion_available(true);
    m.add_queries(q.queries().iter().cloned());
    m
}

fn rcode(q: &Message, code: ResponseCode) -> Message {
    let mut m = reply(q);
    m.set_response_code(code);
    m
}

fn a(owner: &str, ttl: u32, v4: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(Ipv4Addr::from(v4))))
}

fn aaaa(owner: &str, ttl: u32, v6: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::AAAA(AAAA(v6.parse().unwrap())))
}

fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
}

fn soa(zone: &str, ttl: u32, minimum: u32) -> Record {
    let data = SOA::new(
        name("ns.example."),
        name("hostmaster.example."),
        1,
        3600,
        600,
        86400,
        minimum,
    );
    Record::from_rdata(name(zone), ttl, RData::SOA(data))
}

fn answered(q: &Message, records: Vec<Record>) -> Message {
    let mut m = reply(q);
    m.add_answers(records);
    m
}

fn nodata(q: &Message, soa_ttl: u32, minimum: u32) -> Message {
    let mut m = reply(q);
    m.add_name_server(soa("example.com.", soa_ttl, minimum));
    m
}

/// What the upstream does with one query: `None` is a timeout.
type Script<'a> = dyn FnMut(&Message) -> Option<Message> + 'a;

/// Runs a resolution to the end; returns the final action and the queries
/// sent upstream.
fn run(config: &Config, client: &Message, upstream: &mut Script<'_>) -> (Action, Vec<Message>) {
    let mut r = Resolution::new(config, client).unwrap();
    let mut sent = Vec::new();
    for _ in 0..8 {
        match r.poll() {
            Action::Upstream(q) => {
                match upstream(&q) {
                    Some(resp) => r.handle_response(&resp),
                    None => r.handle_failure(),
                }
                sent.push(q);
            }
            Action::Wait => panic!("waiting with nothing in flight"),
            done => {
                assert_eq!(r.poll(), Action::Done);
                return (done, sent);
            }
        }
    }
    panic!("resolution did not finish");
}

fn respond(action: Action) -> Message {
    match action {
        Action::Respond(m) => {
            // Every final answer is well formed on the wire.
            let bytes = m.to_vec().unwrap();
            Message::from_vec(&bytes).unwrap();
            m
        }
        other => panic!("expected Respond, got {other:?}"),
    }
}

fn qtype(m: &Message) -> RecordType {
    m.queries()[0].query_type()
}

/// The AAAA addresses of the answer section, in order.
fn addrs(m: &Message) -> Vec<String> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::AAAA(x) => Some(x.0.to_string()),
            _ => None,
        })
        .collect()
}

fn ttls(m: &Message) -> Vec<u32> {
    m.answers()
        .iter()
        .filter(|r| r.record_type() == RecordType::AAAA)
        .map(Record::ttl)
        .collect()
}

fn ede_codes(m: &Message) -> Vec<u16> {
    m.extensions()
        .as_ref()
        .map(|e| {
            e.options()
                .as_ref()
                .iter()
                .filter(|(c, _)| u16::from(*c) == EDNS_EDE)
                .filter_map(|(_, o)| match Vec::<u8>::try_from(o).ok()?.as_slice() {
                    [x, y, ..] => Some(u16::from_be_bytes([*x, *y])),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

const WWW: &str = "www.example.com.";
/// A global IPv4 (not in any special-purpose range).
const G1: [u8; 4] = [198, 252, 206, 16];
const G2: [u8; 4] = [151, 101, 1, 69];

/// An upstream with a NODATA AAAA (SOA ttl 3600, minimum 3600) and two A.
fn v4_only(q: &Message) -> Option<Message> {
    Some(match qtype(q) {
        RecordType::AAAA => nodata(q, 3600, 3600),
        _ => answered(q, vec![a(WWW, 300, G1), a(WWW, 300, G2)]),
    })
}

// ---------------------------------------------------------------- AAAA

#[test]
fn usable_aaaa_is_returned_as_is() {
    let client = query(WWW, RecordType::AAAA);
    let (action, sent) = run(&Config::default(), &client, &mut |q| {
        Some(answered(q, vec![aaaa(WWW, 120, "2001:db8::1")]))
    });
    let m = respond(action);
    assert_eq!(sent.len(), 1, "no A query");
    assert_eq!(addrs(&m), ["2001:db8::1"]);
    assert_eq!(m.id(), 0x4242);
    assert_eq!(m.message_type(), MessageType::Response);
    assert!(m.recursion_desired());
    assert_eq!(m.queries(), client.queries());
}

#[test]
fn nodata_leads_to_a_and_synthesis() {
    let client = query(WWW, RecordType::AAAA);
    let (action, sent) = run(&Config::default(), &client, &mut v4_only);
    let m = respond(action);
    assert_eq!(
        sent.iter().map(qtype).collect::<Vec<_>>(),
        [RecordType::AAAA, RecordType::A]
    );
    // The upstream queries keep the client's id, name and RD bit.
    for q in &sent {
        assert_eq!(q.id(), 0x4242);
        assert!(q.recursion_desired());
        assert_eq!(q.queries()[0].name(), &name(WWW));
    }
    assert_eq!(addrs(&m), ["64:ff9b::c6fc:ce10", "64:ff9b::9765:145"]);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.name_servers().is_empty());
}

#[test]
fn partial_filtering_keeps_good_aaaa_and_drops_excluded() {
    let client = query(WWW, RecordType::AAAA);
    let (action, sent) = run(&Config::default(), &client, &mut |q| {
        let mut m = answered(
            q,
            vec![
                aaaa(WWW, 120, "::ffff:192.0.2.1"),
                aaaa(WWW, 120, "2001:db8::1"),
            ],
        );
        m.set_authentic_data(true);
        Some(m)
    });
    let m = respond(action);
    assert_eq!(sent.len(), 1);
    assert_eq!(addrs(&m), ["2001:db8::1"]);
    assert!(!m.authentic_data(), "a filtered RRset no longer validates");
}

#[test]
fn all_excluded_aaaa_leads_to_synthesis() {
    let config = Config::builder()
        .exclude_aaaa([
            "::ffff:0:0/96".parse().unwrap(),
            "2001:db8:bad::/48".parse().unwrap(),
        ])
        .build()
        .unwrap();
    let client = query(WWW, RecordType::AAAA);
    let (action, sent) = run(&config, &client, &mut |q| {
        Some(match qtype(q) {
            RecordType::AAAA => answered(
                q,
                vec![
                    aaaa(WWW, 120, "::ffff:1.2.3.4"),
                    aaaa(WWW, 120, "2001:db8:bad::1"),
                ],
            ),
            _ => answered(q, vec![a(WWW, 300, G1)]),
        })
    });
    assert_eq!(sent.len(), 2);
    assert_eq!(addrs(&respond(action)), ["64:ff9b::c6fc:ce10"]);

    // Nothing to synthesise from (no A): the answer is the AAAA answer as
    // if it had been empty (§5.1.4), never the excluded records.
    let (action, _) = run(&config, &client, &mut |q| {
        Some(match qtype(q) {
            RecordType::AAAA => answered(q, vec![aaaa(WWW, 120, "::ffff:1.2.3.4")]),
            _ => nodata(q, 300, 60),
        })
    });
    let m = respond(action);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(addrs(&m).is_empty(), "{m:?}");
}

#[test]
fn nxdomain_is_returned_without_an_a_query() {
    let client = query(WWW, RecordType::AAAA);
    let (action, sent) = run(&Config::default(), &client, &mut |q| {
        let mut m = rcode(q, ResponseCode::NXDomain);
        m.add_name_server(soa("example.com.", 900, 900));
        Some(m)
    });
    let m = respond(action);
    assert_eq!(sent.len(), 1);
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    assert_eq!(m.name_servers().len(), 1);
}

#[test]
fn error_rcodes_and_timeouts_follow_the_policy_switch() {
    let on = Config::default();
    let off = Config::builder()
        .synthesize_on_error(false)
        .build()
        .unwrap();
    let client = query(WWW, RecordType::AAAA);
    for code in [
        ResponseCode::ServFail,
        ResponseCode::Refused,
        ResponseCode::NotImp,
        ResponseCode::FormErr,
    ] {
        // On (RFC 6147 §5.1.2): treated as an empty answer, so A is asked.
        let (action, sent) = run(&on, &client, &mut |q| {
            Some(match qtype(q) {
                RecordType::AAAA => rcode(q, code),
                _ => answered(q, vec![a(WWW, 300, G1)]),
            })
        });
        assert_eq!(sent.len(), 2, "{code}");
        let m = respond(action);
        assert_eq!(addrs(&m), ["64:ff9b::c6fc:ce10"], "{code}");
        assert_eq!(ttls(&m), [300], "no SOA: A TTL under the 600 s cap");
        // Off: the error goes back as is.
        let (action, sent) = run(&off, &client, &mut |q| Some(rcode(q, code)));
        assert_eq!(sent.len(), 1);
        assert_eq!(respond(action).response_code(), code);
    }
    // Timeout on the AAAA: synthesis when on, SERVFAIL when off.
    let (action, _) = run(&on, &client, &mut |q| match qtype(q) {
        RecordType::AAAA => None,
        _ => Some(answered(q, vec![a(WWW, 3000, G1)])),
    });
    let m = respond(action);
    assert_eq!(addrs(&m), ["64:ff9b::c6fc:ce10"]);
    assert_eq!(ttls(&m), [600]);
    let (action, sent) = run(&off, &client, &mut |_| None);
    assert_eq!(sent.len(), 1);
    assert_eq!(respond(action).response_code(), ResponseCode::ServFail);
    // SERVFAIL on AAAA, then A fails too: the original SERVFAIL.
    let (action, _) = run(&on, &client, &mut |q| match qtype(q) {
        RecordType::AAAA => Some(rcode(q, ResponseCode::ServFail)),
        _ => None,
    });
    assert_eq!(respond(action).response_code(), ResponseCode::ServFail);
    // Timeout on both: SERVFAIL.
    let (action, sent) = run(&on, &client, &mut |_| None);
    assert_eq!(sent.len(), 2);
    assert_eq!(respond(action).response_code(), ResponseCode::ServFail);
}

#[test]
fn no_a_either_returns_the_original_nodata() {
    let client = query(WWW, RecordType::AAAA);
    let (action, sent) = run(&Config::default(), &client, &mut |q| {
        Some(match qtype(q) {
            RecordType::AAAA => nodata(q, 3600, 300),
            _ => nodata(q, 3600, 300),
        })
    });
    assert_eq!(sent.len(), 2);
    let m = respond(action);
    assert!(m.answers().is_empty());
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(matches!(m.name_servers()[0].data(), RData::SOA(_)));
}

#[test]
fn cname_chain_is_kept_and_synthesis_applies_to_its_end() {
    let client = query(WWW, RecordType::AAAA);
    let (action, sent) = run(&Config::default(), &client, &mut |q| {
        Some(match qtype(q) {
            RecordType::AAAA => {
                let mut m = answered(
                    q,
                    vec![
                        cname(WWW, "edge.cdn.test."),
                        cname("edge.cdn.test.", "v4.cdn.test."),
                    ],
                );
                m.add_name_server(soa("cdn.test.", 60, 60));
                m
            }
            _ => answered(
                q,
                vec![
                    cname(WWW, "edge.cdn.test."),
                    cname("edge.cdn.test.", "v4.cdn.test."),
                    a("v4.cdn.test.", 300, G1),
                    // Not at the chain's end: ignored.
                    a("elsewhere.test.", 300, G2),
                ],
            ),
        })
    });
    // A is asked for the original name (module docs: §5.1.6 decision).
    assert_eq!(sent[1].queries()[0].name(), &name(WWW));
    let m = respond(action);
    let types: Vec<RecordType> = m.answers().iter().map(Record::record_type).collect();
    assert_eq!(
        types,
        [RecordType::CNAME, RecordType::CNAME, RecordType::AAAA]
    );
    assert_eq!(m.answers()[2].name(), &name("v4.cdn.test."));
    assert_eq!(addrs(&m), ["64:ff9b::c6fc:ce10"]);
    assert_eq!(ttls(&m), [60], "capped by the chain's negative TTL");
}

#[test]
fn ttl_is_the_a_ttl_capped_by_the_soa_minimum() {
    let client = query(WWW, RecordType::AAAA);
    // (SOA TTL, SOA MINIMUM, A TTL) -> synthesised TTL
    for (soa_ttl, minimum, a_ttl, want) in [
        (3600, 60, 300, 60),    // MINIMUM caps
        (30, 3600, 300, 30),    // SOA TTL caps (RFC 2308 §5)
        (3600, 3600, 300, 300), // A TTL is smaller
        (3600, 0, 300, 0),
    ] {
        let (action, _) = run(&Config::default(), &client, &mut |q| {
            Some(match qtype(q) {
                RecordType::AAAA => nodata(q, soa_ttl, minimum),
                _ => answered(q, vec![a(WWW, a_ttl, G1)]),
            })
        });
        assert_eq!(
            ttls(&respond(action)),
            [want],
            "{soa_ttl} {minimum} {a_ttl}"
        );
    }
    // No SOA in the NODATA: capped at 600 s.
    let (action, _) = run(&Config::default(), &client, &mut |q| {
        Some(match qtype(q) {
            RecordType::AAAA => reply(q),
            _ => answered(q, vec![a(WWW, 86400, G1)]),
        })
    });
    assert_eq!(ttls(&respond(action)), [600]);
}

#[test]
fn every_prefix_is_used() {
    let config = Config::builder()
        .prefixes([
            "64:ff9b::/96".parse().unwrap(),
            "2001:db8:64::/64".parse().unwrap(),
        ])
        .build()
        .unwrap();
    let (action, _) = run(&config, &query(WWW, RecordType::AAAA), &mut v4_only);
    assert_eq!(
        addrs(&respond(action)),
        [
            "64:ff9b::c6fc:ce10",
            "64:ff9b::9765:145",
            "2001:db8:64:0:c6:fcce:1000:0",
            "2001:db8:64:0:97:6501:4500:0",
        ]
    );
}

#[test]
fn well_known_prefix_never_carries_non_global_ipv4() {
    let client = query(WWW, RecordType::AAAA);
    let mut private = |q: &Message| {
        Some(match qtype(q) {
            RecordType::AAAA => nodata(q, 3600, 3600),
            _ => answered(q, vec![a(WWW, 300, [10, 0, 0, 1]), a(WWW, 300, G1)]),
        })
    };
    let (action, _) = run(&Config::default(), &client, &mut private);
    assert_eq!(addrs(&respond(action)), ["64:ff9b::c6fc:ce10"]);

    // Only a private A: nothing to synthesise, the NODATA goes back.
    let (action, _) = run(&Config::default(), &client, &mut |q| {
        Some(match qtype(q) {
            RecordType::AAAA => nodata(q, 3600, 3600),
            _ => answered(q, vec![a(WWW, 300, [10, 0, 0, 1])]),
        })
    });
    let m = respond(action);
    assert!(m.answers().is_empty());
    assert_eq!(m.name_servers().len(), 1);

    let allow = Config::builder().allow_non_global(true).build().unwrap();
    let (action, _) = run(&allow, &client, &mut private);
    assert_eq!(
        addrs(&respond(action)),
        ["64:ff9b::a00:1", "64:ff9b::c6fc:ce10"]
    );

    // A network-specific prefix carries any IPv4.
    let nsp = Config::builder()
        .prefixes(["2001:db8:64::/96".parse().unwrap()])
        .build()
        .unwrap();
    let (action, _) = run(&nsp, &client, &mut private);
    assert_eq!(
        addrs(&respond(action)),
        ["2001:db8:64::a00:1", "2001:db8:64::c6fc:ce10"]
    );
}

#[test]
fn never_mapped_ranges_are_skipped() {
    let config = Config::builder()
        .never_map(["151.101.0.0/16".parse().unwrap()])
        .build()
        .unwrap();
    let (action, _) = run(&config, &query(WWW, RecordType::AAAA), &mut v4_only);
    assert_eq!(addrs(&respond(action)), ["64:ff9b::c6fc:ce10"]);
}

#[test]
fn forced_names_ignore_real_aaaa() {
    let config = Config::builder()
        .force_names(["registry.npmjs.org"])
        .build()
        .unwrap();
    let client = query("Registry.NPMJS.org.", RecordType::AAAA);
    let (action, sent) = run(&config, &client, &mut |q| {
        Some(match qtype(q) {
            RecordType::AAAA => answered(q, vec![aaaa("registry.npmjs.org.", 300, "2606:4700::1")]),
            _ => answered(q, vec![a("registry.npmjs.org.", 300, [104, 16, 1, 35])]),
        })
    });
    assert_eq!(sent.iter().map(qtype).collect::<Vec<_>>(), [RecordType::A]);
    let m = respond(action);
    assert_eq!(addrs(&m), ["64:ff9b::6810:123"]);
    assert!(!m.authentic_data());
    // Names under a forced name are forced too; others are not.
    let (_, sent) = run(
        &config,
        &query("a.registry.npmjs.org.", RecordType::AAAA),
        &mut v4_only,
    );
    assert_eq!(qtype(&sent[0]), RecordType::A);
    let (_, sent) = run(
        &config,
        &query("npmjs.org.", RecordType::AAAA),
        &mut v4_only,
    );
    assert_eq!(qtype(&sent[0]), RecordType::AAAA);
    // A forced name without A: its negative answer, asked as AAAA.
    let (action, _) = run(&config, &client, &mut |q| {
        let mut m = rcode(q, ResponseCode::NXDomain);
        m.add_name_server(soa("npmjs.org.", 60, 60));
        Some(m)
    });
    let m = respond(action);
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    assert_eq!(qtype(&m), RecordType::AAAA);
}

#[test]
fn excluded_names_and_other_types_are_forwarded() {
    let config = Config::builder()
        .exclude_names(["corp.example."])
        .build()
        .unwrap();
    for (qname, rtype) in [
        ("intranet.corp.example.", RecordType::AAAA),
        ("corp.example.", RecordType::AAAA),
        (WWW, RecordType::MX),
        (WWW, RecordType::A),
        (WWW, RecordType::TXT),
    ] {
        let mut r = Resolution::new(&config, &query(qname, rtype)).unwrap();
        assert_eq!(r.poll(), Action::Forward, "{qname} {rtype}");
        assert_eq!(r.poll(), Action::Done);
    }
}

#[test]
fn extended_dns_error_only_when_enabled() {
    let client = with_edns(query(WWW, RecordType::AAAA), false, false);
    let (action, _) = run(&Config::default(), &client, &mut v4_only);
    let m = respond(action);
    assert!(m.extensions().is_some());
    assert!(ede_codes(&m).is_empty());

    let ede = Config::builder().extended_error(true).build().unwrap();
    let (action, sent) = run(&ede, &client, &mut v4_only);
    assert!(sent[0].extensions().is_some(), "EDNS goes upstream");
    assert_eq!(ede_codes(&respond(action)), [EDE_SYNTHESIZED]);
    // Not on an answer that was not synthesised.
    let (action, _) = run(&ede, &client, &mut |q| {
        Some(answered(q, vec![aaaa(WWW, 60, "2001:db8::1")]))
    });
    assert!(ede_codes(&respond(action)).is_empty());
    // Not to a client without EDNS (no OPT may be sent back), though the
    // upstream is still asked with EDNS and 1232 bytes.
    let (action, sent) = run(&ede, &query(WWW, RecordType::AAAA), &mut v4_only);
    assert!(respond(action).extensions().is_none());
    for q in &sent {
        let opt = q.extensions().as_ref().expect("EDNS upstream");
        assert_eq!(opt.max_payload(), 1232);
        assert!(!opt.flags().dnssec_ok);
    }
}

#[test]
fn dnssec_do_and_cd_mean_no_synthesis() {
    let mut r = Resolution::new(
        &Config::default(),
        &with_edns(query(WWW, RecordType::AAAA), true, true),
    )
    .unwrap();
    assert_eq!(r.poll(), Action::Forward);

    // CD alone: synthesis (RFC 6147 §5.5 case 4), CD copied upstream.
    let client = with_edns(query(WWW, RecordType::AAAA), false, true);
    let (action, sent) = run(&Config::default(), &client, &mut v4_only);
    assert!(sent.iter().all(Message::checking_disabled));
    let m = respond(action);
    assert!(m.checking_disabled());
    assert_eq!(addrs(&m).len(), 2);

    // Unbound's rule on request: CD alone forwards too.
    let strict = Config::builder()
        .cd_disables_synthesis(true)
        .build()
        .unwrap();
    let mut r = Resolution::new(&strict, &client).unwrap();
    assert_eq!(r.poll(), Action::Forward);

    // DO alone: synthesis, DO copied upstream and back.
    let client = with_edns(query(WWW, RecordType::AAAA), true, false);
    let (action, sent) = run(&Config::default(), &client, &mut v4_only);
    assert!(sent
        .iter()
        .all(|q| q.extensions().as_ref().unwrap().flags().dnssec_ok));
    let m = respond(action);
    assert!(m.extensions().as_ref().unwrap().flags().dnssec_ok);
}

#[test]
fn ad_only_when_both_nodata_and_a_were_authenticated() {
    let client = with_edns(query(WWW, RecordType::AAAA), true, false);
    for (nodata_ad, a_ad) in [(true, true), (true, false), (false, true), (false, false)] {
        let (action, _) = run(&Config::default(), &client, &mut |q| {
            let mut m = match qtype(q) {
                RecordType::AAAA => {
                    let mut m = nodata(q, 3600, 3600);
                    m.set_authentic_data(nodata_ad);
                    return Some(m);
                }
                _ => answered(q, vec![a(WWW, 300, G1)]),
            };
            m.set_authentic_data(a_ad);
            Some(m)
        });
        let m = respond(action);
        assert_eq!(addrs(&m).len(), 1);
        assert_eq!(m.authentic_data(), nodata_ad && a_ad, "{nodata_ad} {a_ad}");
    }
    // After an error on the AAAA there is no validated NODATA: no AD.
    let (action, _) = run(&Config::default(), &client, &mut |q| {
        let mut m = match qtype(q) {
            RecordType::AAAA => rcode(q, ResponseCode::ServFail),
            _ => answered(q, vec![a(WWW, 300, G1)]),
        };
        m.set_authentic_data(true);
        Some(m)
    });
    assert!(!respond(action).authentic_data());
}

// ---------------------------------------------------------------- PTR

#[test]
fn ptr_under_a_prefix_is_answered_through_a_cname() {
    let v6: Ipv6Addr = "64:ff9b::c6fc:ce10".parse().unwrap();
    let ip6_name = Name::from(v6);
    let mut client = Message::new();
    client.set_id(9).set_recursion_desired(true);
    client.add_query(Query::query(ip6_name.clone(), RecordType::PTR));
    let v4_name = name("16.206.252.198.in-addr.arpa.");
    let (action, sent) = run(&Config::default(), &client, &mut |q| {
        Some(answered(
            q,
            vec![Record::from_rdata(
                q.queries()[0].name().clone(),
                3600,
                RData::PTR(PTR(name("stackoverflow.com."))),
            )],
        ))
    });
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].queries()[0].name(), &v4_name);
    assert_eq!(qtype(&sent[0]), RecordType::PTR);
    let m = respond(action);
    assert_eq!(m.answers().len(), 2);
    assert_eq!(m.answers()[0].name(), &ip6_name);
    assert_eq!(m.answers()[0].data(), &RData::CNAME(CNAME(v4_name.clone())));
    assert_eq!(
        m.answers()[1].data(),
        &RData::PTR(PTR(name("stackoverflow.com.")))
    );

    // Upstream fails: the CNAME alone.
    let (action, _) = run(&Config::default(), &client, &mut |_| None);
    let m = respond(action);
    assert_eq!(m.answers().len(), 1);
    assert_eq!(m.response_code(), ResponseCode::NoError);

    // NXDOMAIN for the in-addr.arpa name: kept (RFC 6604).
    let (action, _) = run(&Config::default(), &client, &mut |q| {
        Some(rcode(q, ResponseCode::NXDomain))
    });
    assert_eq!(respond(action).response_code(), ResponseCode::NXDomain);

    // Other PTRs are untouched.
    for other in [
        Name::from("2001:db8::1".parse::<Ipv6Addr>().unwrap()),
        Name::from(Ipv4Addr::new(198, 252, 206, 16)),
        // Under the WKP but non-global: never synthesised, so not mapped back.
        Name::from(Nat64Prefix::WELL_KNOWN.embed(Ipv4Addr::new(10, 0, 0, 1))),
        name("0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa."),
    ] {
        let mut q = Message::new();
        q.add_query(Query::query(other.clone(), RecordType::PTR));
        let mut r = Resolution::new(&Config::default(), &q).unwrap();
        assert_eq!(r.poll(), Action::Forward, "{other}");
    }
}

// ---------------------------------------------------------------- ipv4only.arpa

#[test]
fn ipv4only_arpa_is_answered_without_upstream() {
    let config = Config::builder()
        .prefixes([
            "64:ff9b::/96".parse().unwrap(),
            "2001:db8:122:344::/64".parse().unwrap(),
        ])
        .build()
        .unwrap();
    let (action, sent) = run(
        &config,
        &query("ipv4only.arpa.", RecordType::AAAA),
        &mut |_| panic!("no upstream"),
    );
    assert!(sent.is_empty());
    let m = respond(action);
    let found: Vec<Ipv6Addr> = addrs(&m).iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(
        found.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "64:ff9b::c000:aa",
            "64:ff9b::c000:ab",
            "2001:db8:122:344:c0:0:aa00:0",
            "2001:db8:122:344:c0:0:ab00:0",
        ]
    );
    // RFC 7050 discovery over the answer finds the configured prefixes.
    assert_eq!(
        sixgate::rfc6052::discover(&found).unwrap(),
        config.prefixes()
    );

    let (action, _) = run(
        &config,
        &query("IPV4ONLY.arpa.", RecordType::A),
        &mut |_| panic!(),
    );
    let m = respond(action);
    let v4: Vec<RData> = m.answers().iter().map(|r| r.data().clone()).collect();
    assert_eq!(
        v4,
        [
            RData::A(A(Ipv4Addr::new(192, 0, 0, 170))),
            RData::A(A(Ipv4Addr::new(192, 0, 0, 171)))
        ]
    );
}

// ---------------------------------------------------------------- errors, policy

#[test]
fn formerr_for_bad_queries() {
    let mut two = query(WWW, RecordType::AAAA);
    two.add_query(Query::query(name("b.example."), RecordType::AAAA));
    let err = Resolution::new(&Config::default(), &two).unwrap_err();
    assert_eq!(err.kind(), "question_count");
    assert_eq!(err.response_code(), ResponseCode::FormErr);
    let err = Resolution::new(&Config::default(), &Message::new()).unwrap_err();
    assert_eq!(err.kind(), "question_count");

    let bytes = two.to_vec().unwrap();
    let reply = Message::from_vec(&error_reply(&bytes, err.response_code()).unwrap()).unwrap();
    assert_eq!(reply.id(), 0x4242);
    assert_eq!(reply.response_code(), ResponseCode::FormErr);
    assert_eq!(reply.message_type(), MessageType::Response);
    assert!(reply.queries().is_empty());
    // Never answer a response.
    let mut resp_bytes = bytes.clone();
    resp_bytes[2] |= 0x80;
    assert!(error_reply(&resp_bytes, ResponseCode::FormErr).is_none());
    assert!(error_reply(&[], ResponseCode::FormErr).is_none());
}

#[test]
fn client_policy_picks_the_longest_prefix() {
    let nsp = Config::builder()
        .prefixes(["2001:db8:64::/96".parse().unwrap()])
        .build()
        .unwrap();
    let mut policy = ClientPolicy::new(None);
    policy.insert("2001:db8::/32".parse().unwrap(), Some(Config::default()));
    policy.insert("2001:db8:1::/48".parse().unwrap(), Some(nsp));
    policy.insert("2001:db8:1:2::/64".parse().unwrap(), None);
    policy.insert("192.0.2.0/24".parse().unwrap(), Some(Config::default()));
    let at = |s: &str| {
        policy
            .config_for(s.parse::<IpAddr>().unwrap())
            .map(|c| c.prefixes()[0].to_string())
    };
    assert_eq!(at("2001:db8::1").as_deref(), Some("64:ff9b::/96"));
    assert_eq!(at("2001:db8:1::1").as_deref(), Some("2001:db8:64::/96"));
    assert_eq!(at("2001:db8:1:2::1"), None);
    assert_eq!(at("2001:db9::1"), None);
    assert_eq!(at("::ffff:192.0.2.7").as_deref(), Some("64:ff9b::/96"));

    let client = query(WWW, RecordType::AAAA);
    let mut r =
        Resolution::with_policy(&policy, "2001:db8:1:2::1".parse().unwrap(), &client).unwrap();
    assert_eq!(r.poll(), Action::Forward);
    let mut r =
        Resolution::with_policy(&policy, "2001:db8:1::9".parse().unwrap(), &client).unwrap();
    assert!(matches!(r.poll(), Action::Upstream(_)));
}

#[test]
fn mismatched_answers_count_as_failures() {
    let client = query(WWW, RecordType::AAAA);
    let mut r = Resolution::new(&Config::default(), &client).unwrap();
    let Action::Upstream(q) = r.poll() else {
        panic!()
    };
    assert_eq!(r.poll(), Action::Wait);
    // An answer for another name: failure, so (RFC default) A is asked.
    let wrong = answered(
        &query("evil.test.", RecordType::AAAA),
        vec![aaaa("evil.test.", 60, "2001:db8::66")],
    );
    let mut wrong = wrong;
    wrong.set_message_type(MessageType::Response);
    r.handle_response(&wrong);
    let Action::Upstream(a_q) = r.poll() else {
        panic!()
    };
    assert_eq!(qtype(&a_q), RecordType::A);
    // A query echoed back (QR clear) is not an answer either.
    r.handle_response(&a_q);
    let m = respond(r.poll());
    assert_eq!(m.response_code(), ResponseCode::ServFail);
    // Late answers are ignored.
    r.handle_response(&answered(&q, vec![]));
    r.handle_failure();
    assert_eq!(r.poll(), Action::Done);
}

#[test]
fn truncated_answers_count_as_failures() {
    let off = Config::builder()
        .synthesize_on_error(false)
        .build()
        .unwrap();
    let (action, _) = run(&off, &query(WWW, RecordType::AAAA), &mut |q| {
        let mut m = answered(q, vec![aaaa(WWW, 60, "2001:db8::1")]);
        m.set_truncated(true);
        Some(m)
    });
    assert_eq!(respond(action).response_code(), ResponseCode::ServFail);
}

// ---------------------------------------------------------------- property test

const NAMES: [&str; 5] = [
    WWW,
    "WWW.Example.COM.",
    "edge.cdn.test.",
    "v4.cdn.test.",
    "other.test.",
];

fn any_name() -> impl Strategy<Value = Name> {
    prop::sample::select(NAMES.to_vec()).prop_map(name)
}

fn any_record() -> impl Strategy<Value = Record> {
    let ttl = any::<u32>();
    prop_oneof![
        (any_name(), ttl, any::<[u8; 4]>()).prop_map(|(n, t, v4)| Record::from_rdata(
            n,
            t,
            RData::A(A(Ipv4Addr::from(v4)))
        )),
        (any_name(), ttl, any::<u128>(), any::<bool>()).prop_map(|(n, t, v6, mapped)| {
            let v6 = if mapped {
                (v6 & 0xffff_ffff) | 0xffff_0000_0000
            } else {
                v6
            };
            Record::from_rdata(n, t, RData::AAAA(AAAA(Ipv6Addr::from(v6))))
        }),
        (any_name(), ttl, any_name()).prop_map(|(n, t, target)| Record::from_rdata(
            n,
            t,
            RData::CNAME(CNAME(target))
        )),
        (any_name(), ttl, any::<u32>()).prop_map(|(n, t, min)| {
            let data = SOA::new(name("ns.test."), name("h.test."), 1, 2, 3, 4, min);
            Record::from_rdata(n, t, RData::SOA(data))
        }),
        (any_name(), ttl, prop::collection::vec(any::<u8>(), 1..24)).prop_map(|(n, t, bytes)| {
            let data = RData::Unknown {
                code: RecordType::RRSIG,
                rdata: NULL::with(bytes),
            };
            Record::from_rdata(n, t, data)
        }),
        (any_name(), ttl, any_name()).prop_map(|(n, t, target)| Record::from_rdata(
            n,
            t,
            RData::PTR(PTR(target))
        )),
    ]
}

/// How the upstream answers one query.
#[derive(Clone, Debug)]
enum Reply {
    Timeout,
    Structured {
        rcode: u16,
        flags: [bool; 4],
        same_question: bool,
        edns: Option<(bool, Vec<u8>)>,
        answers: Vec<Record>,
        authority: Vec<Record>,
    },
    /// A structured reply, encoded, with some bytes overwritten.
    Garbled {
        base: Box<Reply>,
        edits: Vec<(usize, u8)>,
    },
    Bytes(Vec<u8>),
}

fn structured() -> impl Strategy<Value = Reply> {
    (
        prop_oneof![3 => Just(0u16), 1 => 0u16..24, 1 => Just(3u16)],
        any::<[bool; 4]>(),
        prop::bool::weighted(0.9),
        prop::option::of((any::<bool>(), prop::collection::vec(any::<u8>(), 0..16))),
        prop::collection::vec(any_record(), 0..8),
        prop::collection::vec(any_record(), 0..3),
    )
        .prop_map(|(rcode, flags, same_question, edns, answers, authority)| {
            Reply::Structured {
                rcode,
                flags,
                same_question,
                edns,
                answers,
                authority,
            }
        })
}

fn any_reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        1 => Just(Reply::Timeout),
        6 => structured(),
        3 => (structured(), prop::collection::vec((any::<usize>(), any::<u8>()), 1..6))
            .prop_map(|(b, edits)| Reply::Garbled { base: Box::new(b), edits }),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Reply::Bytes),
    ]
}

fn build(reply: &Reply, q: &Message) -> Option<Message> {
    match reply {
        Reply::Timeout => None,
        Reply::Structured {
            rcode,
            flags,
            same_question,
            edns,
            answers,
            authority,
        } => {
            let mut m = Message::new();
            m.set_id(q.id())
                .set_message_type(if flags[0] {
                    MessageType::Response
                } else {
                    MessageType::Query
                })
                .set_authentic_data(flags[1])
                .set_truncated(flags[2] && flags[3])
                .set_recursion_available(flags[3])
                .set_response_code(<ResponseCode as From<u16>>::from(*rcode));
            if *same_question {
                m.add_queries(q.queries().iter().cloned());
            } else {
                m.add_query(Query::query(name("other.test."), RecordType::AAAA));
            }
            m.add_answers(answers.iter().cloned());
            m.add_name_servers(authority.iter().cloned());
            if let Some((dnssec_ok, ede)) = edns {
                let mut e = Edns::new();
                e.set_dnssec_ok(*dnssec_ok);
                e.options_mut()
                    .insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(
                        EDNS_EDE,
                        ede.clone(),
                    ));
                m.set_edns(e);
            }
            Some(m)
        }
        Reply::Garbled { base, edits } => {
            let mut bytes = build(base, q)?.to_vec().ok()?;
            for (at, b) in edits {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] = *b;
                }
            }
            reencodable(&bytes)
        }
        Reply::Bytes(bytes) => reencodable(bytes),
    }
}

/// A message parsed from `bytes`, if hickory can also encode it again (what
/// hickory itself cannot round-trip is not this engine's to fix).
fn reencodable(bytes: &[u8]) -> Option<Message> {
    let m = Message::from_vec(bytes).ok()?;
    Message::from_vec(&m.to_vec().ok()?).ok()?;
    Some(m)
}

fn any_client() -> impl Strategy<Value = Message> {
    (
        prop::sample::select(vec![
            (WWW, RecordType::AAAA),
            ("Registry.npmjs.org.", RecordType::AAAA),
            ("ipv4only.arpa.", RecordType::AAAA),
            (
                "0.1.e.c.c.f.6.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.",
                RecordType::PTR,
            ),
            (WWW, RecordType::A),
        ]),
        any::<u16>(),
        any::<[bool; 3]>(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|((qname, rtype), id, [rd, cd, ad], dnssec_ok)| {
            let mut m = query(qname, rtype);
            m.set_id(id)
                .set_recursion_desired(rd)
                .set_checking_disabled(cd)
                .set_authentic_data(ad);
            if let Some(d) = dnssec_ok {
                m = with_edns(m, d, cd);
            }
            m
        })
}

fn any_config() -> impl Strategy<Value = Config> {
    (any::<[bool; 4]>(), any::<bool>()).prop_map(|([non_global, on_error, ede, cd], two)| {
        let mut prefixes = vec![Nat64Prefix::WELL_KNOWN];
        if two {
            prefixes.push("2001:db8:100::/40".parse().unwrap());
        }
        Config::builder()
            .prefixes(prefixes)
            .allow_non_global(non_global)
            .synthesize_on_error(on_error)
            .extended_error(ede)
            .cd_disables_synthesis(cd)
            .force_names(["registry.npmjs.org"])
            .never_map(["151.101.0.0/16".parse().unwrap()])
            .build()
            .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_algorithm: prop::test_runner::RngAlgorithm::ChaCha,
        rng_seed: prop::test_runner::RngSeed::Fixed(0x0d45_6414_7000),
        ..ProptestConfig::default()
    })]

    /// Whatever the upstream sends (or fails to), the engine ends within a
    /// few steps with a response that encodes and re-parses, carries the
    /// client's id and question, and never sets TC.
    #[test]
    fn garbage_upstream_never_yields_a_malformed_response(
        config in any_config(),
        client in any_client(),
        replies in prop::collection::vec(any_reply(), 3),
    ) {
        let mut r = Resolution::new(&config, &client).unwrap();
        let mut replies = replies.into_iter();
        let mut finished = false;
        for _ in 0..4 {
            match r.poll() {
                Action::Upstream(q) => {
                    prop_assert!(q.to_vec().is_ok());
                    match replies.next().and_then(|rep| build(&rep, &q)) {
                        Some(resp) => r.handle_response(&resp),
                        None => r.handle_failure(),
                    }
                }
                Action::Respond(m) => {
                    let bytes = m.to_vec().expect("final response encodes");
                    let back = Message::from_vec(&bytes).expect("final response re-parses");
                    prop_assert_eq!(back.id(), client.id());
                    prop_assert_eq!(back.queries(), client.queries());
                    prop_assert_eq!(back.message_type(), MessageType::Response);
                    prop_assert!(!back.truncated());
                    prop_assert_eq!(back.extensions().is_some(), client.extensions().is_some());
                    finished = true;
                    break;
                }
                Action::Forward => { finished = true; break; }
                Action::Wait | Action::Done => prop_assert!(false, "stalled"),
            }
        }
        prop_assert!(finished);
        prop_assert_eq!(r.poll(), Action::Done);
    }
}
