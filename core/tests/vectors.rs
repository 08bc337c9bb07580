//! The shared vectors in `core/testdata/vectors.json`, checked against the
//! Rust core. The Python, Node and Perl tests read the same file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;
use sixgate::rfc6052::{self, Nat64Prefix, NonGlobal};
use sixgate::text::{self, ScopedAddr, Style};

fn vectors() -> Value {
    let raw = include_str!("../testdata/vectors.json");
    serde_json::from_str(raw).expect("vectors.json parses")
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

fn list<'a>(v: &'a Value, section: &str, key: &str) -> &'a Vec<Value> {
    v[section][key]
        .as_array()
        .unwrap_or_else(|| panic!("{section}.{key} is a list"))
}

#[test]
fn rfc6052_embed_table() {
    let v = vectors();
    let rows = list(&v, "rfc6052", "embed");
    assert!(rows.len() >= 7, "the RFC 6052 §2.4 table has 7 rows");
    for row in rows {
        let prefix: Nat64Prefix = s(&row["prefix"]).parse().unwrap();
        let v4: Ipv4Addr = s(&row["ipv4"]).parse().unwrap();
        let rfc: Ipv6Addr = s(&row["ipv6_rfc"]).parse().unwrap();
        let got = prefix.embed(v4);
        assert_eq!(got, rfc, "embed {v4} in {prefix}");
        assert_eq!(got.to_string(), s(&row["ipv6"]), "RFC 5952 text of {got}");
        assert_eq!(prefix.extract(got).unwrap(), v4, "extract from {got}");
        assert_eq!(prefix.to_string(), s(&row["prefix"]));
    }
}

#[test]
fn rfc6052_bad_prefixes() {
    let v = vectors();
    for row in list(&v, "rfc6052", "bad_prefixes") {
        let text = s(&row["prefix"]);
        let err = text.parse::<Nat64Prefix>().expect_err(text);
        assert_eq!(err.kind(), s(&row["error"]), "{text:?}: {err}");
    }
}

#[test]
fn rfc6052_extract_errors() {
    let v = vectors();
    for row in list(&v, "rfc6052", "extract_errors") {
        let prefix: Nat64Prefix = s(&row["prefix"]).parse().unwrap();
        let addr: Ipv6Addr = s(&row["ipv6"]).parse().unwrap();
        let err = prefix.extract(addr).expect_err(s(&row["ipv6"]));
        assert_eq!(err.kind(), s(&row["error"]), "{addr} under {prefix}: {err}");
        assert!(
            err.to_string().contains(&addr.to_string()),
            "message names the address: {err}"
        );
    }
}

#[test]
fn rfc6052_non_global_rule() {
    let v = vectors();
    let wkp = Nat64Prefix::WELL_KNOWN;
    for row in list(&v, "rfc6052", "non_global") {
        let v4: Ipv4Addr = s(&row["ipv4"]).parse().unwrap();
        match wkp.synthesize(v4, NonGlobal::Refuse) {
            Err(rfc6052::Error::NonGlobal { addr, range }) => {
                assert_eq!(addr, v4);
                assert_eq!(range.net.to_string(), s(&row["range"]), "{v4}");
                assert_eq!(range.name, s(&row["name"]), "{v4}");
            }
            other => panic!("{v4} under the well-known prefix: {other:?}"),
        }
        assert!(wkp.synthesize(v4, NonGlobal::Allow).is_ok());
    }
    for g in list(&v, "rfc6052", "global") {
        let v4: Ipv4Addr = s(g).parse().unwrap();
        assert_eq!(
            wkp.synthesize(v4, NonGlobal::Refuse).unwrap(),
            wkp.embed(v4),
            "{v4}"
        );
    }
}

#[test]
fn rfc6052_discover() {
    let v = vectors();
    for row in list(&v, "rfc6052", "discover") {
        let answers: Vec<Ipv6Addr> = row["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| s(a).parse().unwrap())
            .collect();
        match (rfc6052::discover(&answers), row.get("prefixes")) {
            (Ok(found), Some(want)) => {
                let found: Vec<String> = found.iter().map(|p| p.to_string()).collect();
                let want: Vec<&str> = want.as_array().unwrap().iter().map(s).collect();
                assert_eq!(found, want, "{answers:?}");
            }
            (Err(e), None) => assert_eq!(e.kind(), s(&row["error"]), "{answers:?}"),
            (got, _) => panic!("{answers:?}: unexpected {got:?}"),
        }
    }
}

#[test]
fn text_canonical_and_bad_addresses() {
    let v = vectors();
    for row in list(&v, "text", "canonical") {
        let addr = text::parse_addr(s(&row["input"])).unwrap();
        assert_eq!(text::canonical(addr), s(&row["output"]), "{}", row["input"]);
    }
    for bad in list(&v, "text", "bad_addresses") {
        let err = text::parse_addr(s(bad)).expect_err(s(bad));
        assert_eq!(err.kind(), "addr", "{bad}: {err}");
    }
}

#[test]
fn text_host_port_url_ptr() {
    let v = vectors();
    for row in list(&v, "text", "host_port") {
        let addr = text::parse_addr(s(&row["address"])).unwrap();
        let port = row["port"].as_u64().unwrap() as u16;
        assert_eq!(text::host_port(addr, port), s(&row["output"]));
    }
    for row in list(&v, "text", "url_host") {
        let addr: ScopedAddr = s(&row["address"]).parse().unwrap();
        assert_eq!(text::url_host(&addr), s(&row["output"]));
    }
    for row in list(&v, "text", "ptr") {
        let addr = text::parse_addr(s(&row["address"])).unwrap();
        assert_eq!(text::ptr_name(addr), s(&row["ptr"]));
    }
}

#[test]
fn text_reverse_zones() {
    let v = vectors();
    for row in list(&v, "text", "reverse_zones") {
        let net = text::parse_net(s(&row["prefix"])).unwrap();
        let want: Vec<&str> = row["zones"].as_array().unwrap().iter().map(s).collect();
        assert_eq!(text::reverse_zones(net), want, "{net}");
    }
    for bad in list(&v, "text", "bad_prefixes") {
        assert!(text::parse_net(s(bad)).is_err(), "{bad}");
    }
}

#[test]
fn text_munin() {
    let v = vectors();
    for row in list(&v, "text", "munin_allow") {
        let addr = text::parse_addr(s(&row["address"])).unwrap();
        assert_eq!(text::munin_allow(addr), s(&row["line"]));
        assert_eq!(
            text::format(Style::MuninAllow, s(&row["address"]), None).unwrap(),
            s(&row["line"])
        );
    }
    for row in list(&v, "text", "munin_cidr") {
        assert_eq!(
            text::format(Style::MuninCidr, s(&row["input"]), None).unwrap(),
            s(&row["line"])
        );
    }
}

#[test]
fn text_normalize() {
    let v = vectors();
    for row in list(&v, "text", "normalize") {
        let addr = text::parse_addr(s(&row["address"])).unwrap();
        let prefixes: Vec<Nat64Prefix> = row["nat64_prefixes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| s(p).parse().unwrap())
            .collect();
        let got = text::normalize(addr, &prefixes);
        assert_eq!(
            text::canonical(got),
            s(&row["output"]),
            "{addr} with {prefixes:?}"
        );
        let want: IpAddr = s(&row["output"]).parse().unwrap();
        assert_eq!(got, want);
    }
}

#[test]
fn text_fmt_styles() {
    let v = vectors();
    let rows = list(&v, "text", "fmt");
    for style in Style::ALL {
        assert!(
            rows.iter().any(|r| r["style"] == style.name()),
            "no vector for style {}",
            style.name()
        );
    }
    for row in rows {
        let port = row["port"].as_u64().map(|p| p as u16);
        let input = s(&row["address"]);
        let result = s(&row["style"])
            .parse::<Style>()
            .and_then(|st| text::format(st, input, port));
        match (result, row.get("output")) {
            (Ok(got), Some(want)) => assert_eq!(got, s(want), "{row}"),
            (Err(e), None) => assert_eq!(e.kind(), s(&row["error"]), "{row}: {e}"),
            (got, _) => panic!("{row}: unexpected {got:?}"),
        }
    }
}
