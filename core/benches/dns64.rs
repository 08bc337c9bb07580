//! DNS64 per-query cost: the synthesis step (an AAAA NODATA and an A answer
//! with two records in, the final response out) and the whole wire round
//! trip (client bytes → `Resolution` → upstream answers → response bytes).
//! `cargo bench -p sixgate --bench dns64`

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, Criterion};
use hickory_proto::op::{Message, MessageType, Query};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use sixgate::dns64::{Action, Config, Resolution};

fn answer(q: &Message) -> Message {
    let mut m = Message::new();
    m.set_id(q.id())
        .set_message_type(MessageType::Response)
        .set_recursion_desired(true)
        .set_recursion_available(true);
    m.add_queries(q.queries().iter().cloned());
    let name = q.queries()[0].name().clone();
    if q.queries()[0].query_type() == RecordType::AAAA {
        let soa = SOA::new(
            Name::from_ascii("ns.example.").unwrap(),
            Name::from_ascii("hostmaster.example.").unwrap(),
            1,
            3600,
            600,
            86400,
            300,
        );
        m.add_name_server(Record::from_rdata(
            Name::from_ascii("example.com.").unwrap(),
            3600,
            RData::SOA(soa),
        ));
    } else {
        for v4 in [
            Ipv4Addr::new(198, 252, 206, 16),
            Ipv4Addr::new(151, 101, 1, 69),
        ] {
            m.add_answer(Record::from_rdata(name.clone(), 300, RData::A(A(v4))));
        }
    }
    m
}

fn client() -> Message {
    let mut m = Message::new();
    m.set_id(0x4242).set_recursion_desired(true);
    m.add_query(Query::query(
        Name::from_ascii("www.example.com.").unwrap(),
        RecordType::AAAA,
    ));
    m
}

fn bench(c: &mut Criterion) {
    let config = Config::default();
    let query = client();

    // Prepare a resolution that has had its NODATA and waits for the A.
    let mut waiting = Resolution::new(&config, &query).unwrap();
    let Action::Upstream(aaaa_q) = waiting.poll() else {
        panic!("expected the AAAA query")
    };
    waiting.handle_response(&answer(&aaaa_q));
    let Action::Upstream(a_q) = waiting.poll() else {
        panic!("expected the A query")
    };
    let a_answer = answer(&a_q);
    c.bench_function("dns64/synthesis", |b| {
        b.iter(|| {
            let mut r = waiting.clone();
            r.handle_response(black_box(&a_answer));
            black_box(r.poll())
        })
    });

    let client_bytes = query.to_vec().unwrap();
    let nodata_bytes = answer(&aaaa_q).to_vec().unwrap();
    let a_bytes = a_answer.to_vec().unwrap();
    c.bench_function("dns64/wire_round_trip", |b| {
        b.iter(|| {
            let q = Message::from_vec(black_box(&client_bytes)).unwrap();
            let mut r = Resolution::new(&config, &q).unwrap();
            let _ = r.poll();
            r.handle_response(&Message::from_vec(black_box(&nodata_bytes)).unwrap());
            let _ = r.poll();
            r.handle_response(&Message::from_vec(black_box(&a_bytes)).unwrap());
            match r.poll() {
                Action::Respond(m) => black_box(m.to_vec().unwrap()),
                other => panic!("unexpected {other:?}"),
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
